/**
 * Every regular expression in src/ is checked by a ReDoS analyser (recheck), which proves its matching work grows at
 * most linearly with the input, instead of timing a match: a quadratic pattern is found whatever the machine's
 * speed. A pattern built at run time (new RegExp) is not seen here; keep those built from constants.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkSync } from 'recheck';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { EMAIL_LIKE } from '../src/presets/shared.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === '__tests__' ? [] : sourceFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

function regexLiterals(file: string): string[] {
  const found: string[] = [];
  const visit = (n: ts.Node) => {
    if (n.kind === ts.SyntaxKind.RegularExpressionLiteral) found.push(n.getText());
    ts.forEachChild(n, visit);
  };
  visit(ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true));
  return found;
}

describe('regular expressions', () => {
  it('every one in src/ matches in time linear in its input', () => {
    const all = sourceFiles('src').flatMap((file) => regexLiterals(file).map((literal) => ({ file, literal })));
    expect(all.length).toBeGreaterThan(50);
    const unique = [...new Map(all.map((r) => [r.literal, r])).values()];
    const unsafe = unique.flatMap(({ file, literal }) => {
      const end = literal.lastIndexOf('/');
      const r = checkSync(literal.slice(1, end), literal.slice(end + 1));
      return r.status === 'safe'
        ? []
        : [`${file}: ${literal} is ${r.status}${r.status === 'vulnerable' ? ` (${r.complexity.type}, e.g. ${r.attack.pattern})` : ''}`];
    });
    expect(unsafe).toEqual([]);
  }, 120_000);

  it('the linear email test still tells emails from user ids', () => {
    for (const yes of ['a@b.co', 'first.last@mail.example.com', 'x@y.z.w']) expect({ yes, ok: EMAIL_LIKE.test(yes) }).toEqual({ yes, ok: true });
    for (const no of ['a@b', 'a@.co', 'a@b.', '@b.co', 'a b@c.d', 'a@b@c.d', `x@${'.'.repeat(30_000)}@`, 'user-123']) {
      expect({ no, ok: EMAIL_LIKE.test(no) }).toEqual({ no, ok: false });
    }
  });
});
