/**
 * The metric names a PromQL expression reads, without label values, Grafana variables and
 * function names; a histogram's `_bucket`, `_count` and `_sum` series count as its family.
 */
export function metricNames(expr: string): string[] {
  const bare = expr.replaceAll(/"[^"]*"/g, '').replaceAll(/\$\w+/g, '');
  return [...bare.matchAll(/\b(?:up|[a-z][a-z0-9_]*_[a-z0-9_]+)\b(?!\s*\()/g)].map(([name]) => name.replace(/_(bucket|count|sum)$/, ''));
}
