import { describe, expect, it } from 'vitest';
import { csvCell } from '../../src/pool/index.js';

describe('csvCell', () => {
  it('neutralises what a spreadsheet would run as a formula (OWASP CSV injection)', () => {
    for (const lead of ['=', '+', '-', '@', '\t', '\r']) {
      const text = `${lead}HYPERLINK("http://x","y")`;
      expect(csvCell(text)).toBe(`"'${text.replaceAll('"', '""')}"`);
    }
    expect(csvCell('=1')).toBe(`"'=1"`);
    expect(csvCell('\r\n=1')).toBe(`"'\r\n=1"`);
  });

  it('leaves ordinary identifiers alone and quotes only what CSV needs quoted', () => {
    expect(csvCell('F05Q10000001')).toBe('F05Q10000001');
    expect(csvCell('a=b')).toBe('a=b');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('a"b')).toBe('"a""b"');
    expect(csvCell('a\nb')).toBe('"a\nb"');
    expect(csvCell('')).toBe('');
  });
});
