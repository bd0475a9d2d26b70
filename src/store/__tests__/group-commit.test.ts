/** Group commit (../group-commit.ts): callers arriving together share one commit, each still gets its own outcome. */
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../group-commit.js';

describe('group commit', () => {
  it('commits items added in the same turn together, and later ones in the next group', async () => {
    const commits: string[][] = [];
    const g = new GroupCommit<string>(async (items) => void commits.push(items));
    await Promise.all(['a', 'b', 'c'].map((x) => g.add(x)));
    await g.add('d');
    expect(commits).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('gathers what arrives while a commit is in flight into the next one', async () => {
    const commits: string[][] = [];
    let finish!: () => void;
    const g = new GroupCommit<string>((items) => {
      commits.push(items);
      return commits.length === 1 ? new Promise<void>((r) => (finish = r)) : undefined;
    });
    const first = g.add('a');
    await new Promise((r) => setImmediate(r));
    const later = [g.add('b'), g.add('c')];
    await new Promise((r) => setImmediate(r));
    expect(commits).toEqual([['a']]); // b and c wait for a's commit
    finish();
    await Promise.all([first, ...later]);
    expect(commits).toEqual([['a'], ['b', 'c']]);
  });

  it('resolves a caller only once its commit is done', async () => {
    let committed = false;
    const g = new GroupCommit<string>(async () => {
      await new Promise((r) => setTimeout(r, 20));
      committed = true;
    });
    await g.add('a');
    expect(committed).toBe(true);
  });

  it('a failed group is committed item by item: each caller gets its own outcome', async () => {
    const stored: string[] = [];
    const g = new GroupCommit<string>((items) => {
      if (items.includes('bad')) throw new Error(`cannot store ${items.join(',')}`);
      stored.push(...items);
    });
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((x) => g.add(x)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('cannot store bad');
    expect(stored).toEqual(['a', 'c']);
  });

  it('an outage fails every caller of the group', async () => {
    const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    const g = new GroupCommit<string>(() => {
      throw full;
    });
    const results = await Promise.allSettled(['a', 'b'].map((x) => g.add(x)));
    expect(results).toEqual([
      { status: 'rejected', reason: full },
      { status: 'rejected', reason: full },
    ]);
  });

  it('drain waits for what was added', async () => {
    const stored: string[] = [];
    const g = new GroupCommit<string>(async (items) => {
      await new Promise((r) => setTimeout(r, 10));
      stored.push(...items);
    });
    void g.add('a');
    void g.add('b');
    await g.drain();
    expect(stored).toEqual(['a', 'b']);
  });
});
