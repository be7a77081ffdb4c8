// Medians and sums over benchmark rounds.

export function median(values) {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = sorted.length >>> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function sumOf(list, pick) {
  return list.reduce((sum, item) => sum + pick(item), 0);
}

