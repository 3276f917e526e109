/** One sample of a Prometheus text exposition: `name{label="value",…} value`. */
export interface PrometheusSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the Prometheus text format (version 0.0.4) into samples, for tests that scrape a
 * `/metrics` endpoint. Comments (`# HELP`, `# TYPE`) are skipped; a line that is not a sample
 * throws, so a malformed exposition fails the test that reads it.
 */
export function parsePrometheusText(text: string): PrometheusSample[] {
  const samples: PrometheusSample[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const sample = parseLine(line);
    if (!sample) throw new Error(`line ${index + 1} is not a Prometheus sample: ${line}`);
    samples.push(sample);
  }
  return samples;
}

/** The samples named `name` whose labels include every one of `labels`. */
export function samplesOf(samples: readonly PrometheusSample[], name: string, labels: Record<string, string> = {}): PrometheusSample[] {
  return samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
}

/** The value of the one sample that matches, or undefined when none does (several is an error). */
export function sampleValue(samples: readonly PrometheusSample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samplesOf(samples, name, labels);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,)?/;

function parseLine(line: string): PrometheusSample | undefined {
  const name = NAME.exec(line)?.[0];
  if (!name) return undefined;
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1);
    while (!rest.trimStart().startsWith('}')) {
      const match = LABEL.exec(rest);
      if (!match) return undefined;
      labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, escaped: string) => (escaped === 'n' ? '\n' : escaped));
      rest = rest.slice(match[0].length);
      if (!match[3] && !rest.trimStart().startsWith('}')) return undefined;
    }
    rest = rest.trimStart().slice(1);
  }
  const [valueText] = rest.trim().split(/\s+/);
  if (valueText === undefined || valueText === '') return undefined;
  // As Go's ParseFloat (Prometheus's): NaN and Inf in any case (prom-client writes `Nan`).
  const special: Record<string, number> = { nan: NaN, inf: Infinity, '+inf': Infinity, '-inf': -Infinity };
  const value = special[valueText.toLowerCase()] ?? Number(valueText);
  if (Number.isNaN(value) && valueText.toLowerCase() !== 'nan') return undefined;
  return { name, labels, value };
}
