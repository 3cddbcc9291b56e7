import { parseJsonDialect } from '../src/core/json-dialect';

describe('JSON with the Python dialect', () => {
  it.each([
    ['{"a": [1, "two", 3.0], "b": null}', { a: [1, 'two', 3], b: null }],
    ['NaN', NaN],
    ['-Infinity', -Infinity],
    ['[Infinity, -Infinity, NaN, 1]', [Infinity, -Infinity, NaN, 1]],
    ['18446744073709551616', 18446744073709551616n],
    ['-18446744073709551616', -18446744073709551616n],
    ['9007199254740991', 9007199254740991],
    ['9007199254740993', 9007199254740993n],
    ['{"big": 123456789012345678901234567890, "f": 1.5e300}', { big: 123456789012345678901234567890n, f: 1.5e300 }],
    ['"NaN and Infinity and 12345678901234567890 stay text"', 'NaN and Infinity and 12345678901234567890 stay text'],
    ['{"NaN": "x \\" NaN", "k": NaN}', { NaN: 'x " NaN', k: NaN }],
    ['"caf\\u00e9 \\ud83d\\ude80"', 'café 🚀'],
    ['12345678901234567.5', Number('12345678901234567.5')],
    // What JavaScript itself writes for large doubles reads back as the same numbers.
    [JSON.stringify([2 ** 53, 1e16, -(2 ** 60), 1.5e20, 123456789012345680000]), [2 ** 53, 1e16, -(2 ** 60), 1.5e20, 123456789012345680000]],
    ['[-0, 10000000000000000]', [-0, 1e16]],
  ])('parses %s', (text, expected) => {
    expect(parseJsonDialect(text)).toEqual(expected);
  });

  it('still refuses what is not JSON of either dialect', () => {
    expect(() => parseJsonDialect('{"a": nan}')).toThrow(SyntaxError);
    expect(() => parseJsonDialect('not json')).toThrow(SyntaxError);
    expect(() => parseJsonDialect('NaN NaN')).toThrow(SyntaxError);
  });
});
