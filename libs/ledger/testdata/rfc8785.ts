// JCS known answers from cyberphone/json-canonicalization (testdata/input and testdata/output),
// the reference test data of RFC 8785's authors. `values` is RFC 8785 section 3.2.2's example and
// `weird` its section 3.2.3 sorting example. Inputs are JSON texts; outputs are the exact
// canonical strings (escapes below are TypeScript's, standing for the raw characters).
export const JCS_VECTORS: { name: string; input: string; output: string }[] = [
  {
    name: 'values',
    input: String.raw`{
  "numbers": [1E30, 4.50, 333333333.33333329, 2e-3, 0.000000000000000000000000001],
  "escaping": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`,
    output: '{"escaping":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/","literals":[null,true,false],"numbers":[1e+30,4.5,333333333.3333333,0.002,1e-27]}',
  },
  {
    name: 'weird',
    input: String.raw`{
  "\u20ac": "Euro Sign",
  "1": "One",
  "\u0080": "Control\u007f",
  "\ud83d\ude02": "Smiley",
  "\u00f6": "Latin Small Letter O With Diaeresis",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "</script>": "Browser Challenge"
}`,
    output:
      '{"1":"One","</script>":"Browser Challenge","\u0080":"Control\u007f","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude02":"Smiley","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
  },
  {
    name: 'structures',
    input: String.raw`{
  "1": {"f": {"f": "hi","F": 5} ,"\n": 56.0},
  "10": { },
  "": "empty",
  "a": { },
  "111": [ { } ],
  "A": { }
}`,
    output: '{"":"empty","1":{"\\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{}],"A":{},"a":{}}',
  },
  {
    name: 'unicode',
    input: String.raw`{
  "Unnormalized Unicode":"\u1e0d\u0307"
}`,
    output: '{"Unnormalized Unicode":"\u1e0d\u0307"}',
  },
];
