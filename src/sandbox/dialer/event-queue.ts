/**
 * A binary min-heap of simulation events ordered by time, then by insertion order, so that two
 * events at the same millisecond always replay in the same order (determinism per seed).
 */
export interface SimEvent<K extends string = string> {
  at: number;
  seq: number;
  kind: K;
  ref: number;
}

export class EventQueue<K extends string> {
  private readonly heap: SimEvent<K>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(at: number, kind: K, ref: number): void {
    const event: SimEvent<K> = { at, seq: this.seq++, kind, ref };
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(event, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = event;
  }

  peekTime(): number {
    return this.heap.length > 0 ? this.heap[0]!.at : Number.POSITIVE_INFINITY;
  }

  pop(): SimEvent<K> | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
