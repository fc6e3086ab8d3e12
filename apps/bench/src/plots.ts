import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CdfPoint, ThroughputSample } from './series.js';

/** One line of a plot: a label (the policy) and its points. */
export interface CdfLine {
  label: string;
  points: readonly CdfPoint[];
}

/** One line of a throughput plot. */
export interface ThroughputLine {
  label: string;
  samples: readonly ThroughputSample[];
}

const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
const WIDTH = 640;
const HEIGHT = 340;

function baseSpec(title: string, subtitle: string | undefined, values: unknown[]): Record<string, unknown> {
  return {
    $schema: 'https://vega.github.io/schema/vega/v6.json',
    width: WIDTH,
    height: HEIGHT,
    padding: 8,
    background: 'white',
    title: {
      text: title,
      ...(subtitle ? { subtitle } : {}),
      anchor: 'start',
      font: FONT,
      subtitleFont: FONT,
    },
    config: {
      axis: {
        labelFont: FONT,
        titleFont: FONT,
        labelFontSize: 11,
        titleFontSize: 12,
        grid: true,
        gridOpacity: 0.35,
      },
      legend: { labelFont: FONT, titleFont: FONT, labelFontSize: 11 },
    },
    data: [{ name: 'points', values }],
  };
}

/** Dash patterns by policy, so lines that coincide (identical decisions) stay distinguishable. */
function dashScale(labels: readonly string[]): Record<string, unknown> {
  return {
    name: 'dash',
    type: 'ordinal',
    domain: labels,
    range: [
      [1, 0],
      [6, 3],
      [2, 2],
      [8, 3, 2, 3],
      [4, 4],
      [10, 4],
      [1, 3],
    ],
  };
}

function lineMarks(x: string, y: string, interpolate: string): unknown[] {
  return [
    {
      type: 'group',
      from: { facet: { name: 'series', data: 'points', groupby: 'label' } },
      marks: [
        {
          type: 'line',
          from: { data: 'series' },
          encode: {
            enter: {
              x: { scale: 'x', field: x },
              y: { scale: 'y', field: y },
              stroke: { scale: 'color', field: 'label' },
              strokeDash: { scale: 'dash', field: 'label' },
              strokeWidth: { value: 1.8 },
              interpolate: { value: interpolate },
            },
          },
        },
      ],
    },
  ];
}

/**
 * A Vega spec of write-fault latency CDFs, one line per policy, on a log latency axis (µs), with the
 * 99th percentile marked.
 */
export function cdfSpec(
  title: string,
  lines: readonly CdfLine[],
  subtitle?: string,
): Record<string, unknown> {
  const values = lines.flatMap((l) =>
    l.points.map((p) => ({ label: l.label, us: p.latencyNs / 1e3, f: p.fraction })),
  );
  return {
    ...baseSpec(title, subtitle, values),
    scales: [
      { name: 'x', type: 'log', domain: { data: 'points', field: 'us' }, range: 'width', nice: true },
      { name: 'y', type: 'linear', domain: [0, 1], range: 'height' },
      { name: 'color', type: 'ordinal', domain: lines.map((l) => l.label), range: 'category' },
      dashScale(lines.map((l) => l.label)),
    ],
    axes: [
      {
        orient: 'bottom',
        scale: 'x',
        title: 'write-fault latency as the writers saw it (µs, log scale)',
        format: '~s',
        labelOverlap: 'greedy',
      },
      { orient: 'left', scale: 'y', title: 'fraction of write faults ≤ x', format: '.0%' },
    ],
    legends: [{ stroke: 'color', strokeDash: 'dash', title: 'policy', symbolType: 'stroke' }],
    marks: [
      {
        type: 'rule',
        encode: {
          enter: {
            x: { value: 0 },
            x2: { signal: 'width' },
            y: { scale: 'y', value: 0.99 },
            stroke: { value: '#999' },
            strokeDash: { value: [4, 3] },
          },
        },
      },
      {
        type: 'text',
        encode: {
          enter: {
            x: { value: 4 },
            y: { scale: 'y', value: 0.99 },
            dy: { value: 12 },
            text: { value: 'p99' },
            fill: { value: '#777' },
            font: { value: FONT },
            fontSize: { value: 10 },
          },
        },
      },
      ...lineMarks('us', 'f', 'step-after'),
    ],
  };
}

/** A Vega spec of save throughput over time, one line per policy. */
export function throughputSpec(
  title: string,
  lines: readonly ThroughputLine[],
  subtitle?: string,
): Record<string, unknown> {
  const values = lines.flatMap((l) =>
    l.samples.map((s) => ({ label: l.label, t: s.tNs / 1e9, mib: s.bytesPerSec / 2 ** 20 })),
  );
  return {
    ...baseSpec(title, subtitle, values),
    scales: [
      {
        name: 'x',
        type: 'linear',
        domain: { data: 'points', field: 't' },
        range: 'width',
        zero: true,
        nice: true,
      },
      {
        name: 'y',
        type: 'linear',
        domain: { data: 'points', field: 'mib' },
        range: 'height',
        zero: true,
        nice: true,
      },
      { name: 'color', type: 'ordinal', domain: lines.map((l) => l.label), range: 'category' },
      dashScale(lines.map((l) => l.label)),
    ],
    axes: [
      { orient: 'bottom', scale: 'x', title: 'time since the save loop started (s)' },
      { orient: 'left', scale: 'y', title: 'saved memory per interval (MiB/s)' },
    ],
    legends: [{ stroke: 'color', strokeDash: 'dash', title: 'policy', symbolType: 'stroke' }],
    marks: lineMarks('t', 'mib', 'linear'),
  };
}

/** Renders a Vega spec headless to SVG (vega's `renderer: 'none'` + `toSVG`). */
export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const vega = await import('vega');
  const view = new vega.View(vega.parse(spec as never), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterises SVG to PNG with resvg (2× for legibility, white background, system fonts). */
export async function svgToPng(svg: string): Promise<Uint8Array> {
  const { Resvg } = await import('@resvg/resvg-js');
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: 2 },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}

/** Renders a spec to `<dir>/<name>.svg` and `<dir>/<name>.png`; returns both paths. */
export async function writePlot(dir: string, name: string, spec: Record<string, unknown>): Promise<string[]> {
  const svg = await renderSvg(spec);
  const svgPath = join(dir, `${name}.svg`);
  const pngPath = join(dir, `${name}.png`);
  writeFileSync(svgPath, svg);
  writeFileSync(pngPath, await svgToPng(svg));
  return [svgPath, pngPath];
}
