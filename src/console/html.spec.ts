import fc from 'fast-check';
import { escapeHtml, html } from './html';

describe('html templates', () => {
  it('escapes interpolated text, keeps nested templates, joins arrays and drops null and false', () => {
    const name = '<script>alert("x")</script>&\'';
    const page = html`<p title="${name}">${name}</p>${[html`<b>${1}</b>`, 'a<b']}${null}${false}`;
    expect(page.text).toBe(
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</p><b>1</b>a&lt;b',
    );
  });

  it('never lets a character that starts markup or ends an attribute through', () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        const escaped = escapeHtml(value);
        expect(escaped).not.toMatch(/[<>"']/);
        expect(escaped.replace(/&(amp|lt|gt|quot|#39);/g, '')).not.toContain('&');
      }),
    );
  });
});
