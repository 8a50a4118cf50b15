import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: string;
  dash?: number[];
  width?: number;
  fill?: string;
  /** Drawn as steps (allocations change at a point in time). */
  stepped?: boolean;
  bars?: boolean;
}

export interface Band {
  fromS: number;
  toS: number;
}

export interface TimeChartProps {
  /** What a screen reader hears for the chart as a whole. */
  label: string;
  /** The figures in words, read after the label (peaks, allocation). */
  summary: string;
  t: number[];
  series: ChartSeries[];
  /** Shaded periods (use above the allocation). */
  bands?: Band[];
  bandColor?: string;
  unit: string;
  height?: number;
  /** The x axis shows days (false: date and time). */
  timeAxis?: boolean;
  yMin?: number;
  yMax?: number;
}

/** A uPlot time series that follows its container's width; the shaded bands are drawn through uPlot's own draw hook. */
export function TimeChart(props: TimeChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const id = useRef(`chart-${Math.random().toString(36).slice(2, 8)}`);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = (): number => Math.max(280, el.clientWidth);
    const bands = props.bands ?? [];
    const opts: uPlot.Options = {
      width: width(),
      height: props.height ?? 240,
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      scales: {
        x: { time: props.timeAxis !== false },
        y: { range: (_u, min, max) => [props.yMin ?? Math.min(0, min), props.yMax ?? (max > 0 ? max * 1.1 : 1)] },
      },
      axes: [
        { stroke: '#475569', grid: { stroke: '#e2e8f0' }, ticks: { stroke: '#cbd5e1' } },
        { stroke: '#475569', grid: { stroke: '#e2e8f0' }, ticks: { stroke: '#cbd5e1' }, label: props.unit, size: 56 },
      ],
      series: [
        {},
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.width ?? 1.5,
          ...(s.dash ? { dash: s.dash } : {}),
          ...(s.fill ? { fill: s.fill } : {}),
          ...(s.stepped ? { paths: uPlot.paths.stepped!({ align: 1 }) } : {}),
          ...(s.bars ? { paths: uPlot.paths.bars!({ size: [0.6, 40] }), points: { show: false } } : {}),
          spanGaps: false,
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : `${v.toFixed(2)} ${props.unit}`),
        })),
      ],
      hooks: {
        drawClear: [
          (u: uPlot) => {
            if (!bands.length) return;
            const ctx = u.ctx;
            ctx.save();
            ctx.fillStyle = props.bandColor ?? 'rgba(220, 38, 38, 0.14)';
            for (const b of bands) {
              const x0 = u.valToPos(b.fromS, 'x', true);
              const x1 = u.valToPos(b.toS, 'x', true);
              ctx.fillRect(x0, u.bbox.top, Math.max(1, x1 - x0), u.bbox.height);
            }
            ctx.restore();
          },
        ],
      },
    };
    const chart = new uPlot(opts, [props.t, ...props.series.map((s) => s.values)] as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => chart.setSize({ width: width(), height: props.height ?? 240 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      chart.destroy();
    };
  }, [props.t, props.series, props.bands]);
  return (
    <figure class="chart" role="group" aria-labelledby={`${id.current}-label`} aria-describedby={`${id.current}-summary`}>
      <figcaption id={`${id.current}-label`} class="chart-title">
        {props.label}
      </figcaption>
      <div ref={box} class="chart-canvas" role="img" aria-label={`${props.label}. ${props.summary}`} />
      <p id={`${id.current}-summary`} class="sr-only">
        {props.summary}
      </p>
    </figure>
  );
}
