import fc from 'fast-check';
import { csvCell, csvRow } from './csv';

/** A minimal RFC 4180 reader for one record: what a spreadsheet would see in each cell. */
function parseRecord(text: string): string[] {
  const cells: string[] = [];
  let at = 0;
  for (;;) {
    let cell = '';
    if (text[at] === '"') {
      at++;
      for (;;) {
        if (text[at] === '"' && text[at + 1] === '"') {
          cell += '"';
          at += 2;
        } else if (text[at] === '"') {
          at++;
          break;
        } else cell += text[at++];
      }
    } else {
      while (at < text.length && text[at] !== ',' && !(text[at] === '\r' && text[at + 1] === '\n')) cell += text[at++];
    }
    cells.push(cell);
    if (text[at] === ',') at++;
    else break;
  }
  expect(text.slice(at)).toBe('\r\n');
  return cells;
}

describe('csv', () => {
  it.each([
    ['=HYPERLINK("http://evil.example","click")', `"'=HYPERLINK(""http://evil.example"",""click"")"`],
    ['+1+2', "'+1+2"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1:A2)', "'@SUM(A1:A2)"],
    ['\t=1', "'\t=1"],
    ['\r=1', `"'\r=1"`],
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['line\nbreak', '"line\nbreak"'],
    ['', ''],
  ])('encodes %j as %j', (value, expected) => {
    expect(csvCell(value)).toBe(expected);
  });

  it('keeps every cell a spreadsheet reads back as text, never a formula, and never splits or merges cells', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom('=', '+', '-', '@', '\t', '\r', '\n', ',', '"', 'a', ' ', "'") }), {
          minLength: 1,
          maxLength: 6,
        }),
        (cells) => {
          const read = parseRecord(csvRow(cells));
          expect(read).toHaveLength(cells.length);
          read.forEach((cell, i) => {
            expect(/^[=+\-@\t\r]/.test(cell)).toBe(false);
            expect(cell === cells[i] || cell === `'${cells[i]}`).toBe(true);
          });
        },
      ),
    );
  });
});
