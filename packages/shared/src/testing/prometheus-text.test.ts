import { describe, expect, it } from 'vitest';
import { parsePrometheusText, sampleValue, samplesOf } from './prometheus-text.ts';

describe('parsePrometheusText', () => {
  it('reads samples with and without labels, skipping comments', () => {
    const samples = parsePrometheusText(
      [
        '# HELP volley_queue_jobs Jobs.',
        '# TYPE volley_queue_jobs gauge',
        'volley_queue_jobs{pool="io",state="waiting"} 3',
        'volley_queue_jobs{pool="io",state="active"} 0',
        'volley_up 1',
        'volley_wait_seconds_bucket{le="+Inf",tool="nap"} 7 1700000000000',
        '',
      ].join('\n'),
    );

    expect(samples).toHaveLength(4);
    expect(sampleValue(samples, 'volley_queue_jobs', { pool: 'io', state: 'waiting' })).toBe(3);
    expect(samplesOf(samples, 'volley_queue_jobs', { pool: 'io' })).toHaveLength(2);
    expect(sampleValue(samples, 'volley_up')).toBe(1);
    expect(sampleValue(samples, 'volley_wait_seconds_bucket', { le: '+Inf' })).toBe(7);
    expect(sampleValue(samples, 'volley_missing')).toBeUndefined();
  });

  it('unescapes label values', () => {
    const [sample] = parsePrometheusText('volley_x{path="a\\"b\\\\c\\nd",other=",}"} 1.5e3');

    expect(sample).toEqual({ name: 'volley_x', labels: { path: 'a"b\\c\nd', other: ',}' }, value: 1500 });
  });

  it('throws on a line that is not a sample', () => {
    expect(() => parsePrometheusText('volley_x{pool=io} 1')).toThrow(/line 1/);
    expect(() => parsePrometheusText('volley_x')).toThrow(/line 1/);
  });
});
