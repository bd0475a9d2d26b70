/**
 * A Chart.js line or bar chart. Only the controllers, elements and scales used are registered, so the bundle
 * carries just those parts of Chart.js.
 */
import { useEffect, useRef } from 'preact/hooks';
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartDataset,
} from 'chart.js';

Chart.register(LineController, LineElement, PointElement, BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip, Filler);

export interface Series {
  label: string;
  values: number[];
  color: string;
}

export function TimeChart({
  kind,
  labels,
  series,
  title,
  testid,
}: {
  kind: 'line' | 'bar';
  labels: string[];
  series: Series[];
  title: string;
  testid?: string;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | null>(null);

  const datasets = (): ChartDataset<'line' | 'bar', number[]>[] =>
    series.map((s) => ({
      label: s.label,
      data: s.values,
      borderColor: s.color,
      backgroundColor: kind === 'bar' ? s.color : `${s.color}33`,
      borderWidth: kind === 'bar' ? 0 : 2,
      pointRadius: 0,
      tension: 0.25,
      fill: false,
    }));

  useEffect(() => {
    if (!canvas.current) return;
    chart.current = new Chart(canvas.current, {
      type: kind,
      data: { labels, datasets: datasets() as ChartDataset<typeof kind, number[]>[] },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: 'index', intersect: false },
        scales: { x: { ticks: { maxTicksLimit: 8, autoSkip: true } }, y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
      },
    });
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
  }, [kind]);

  // New data updates the existing chart instead of rebuilding it, so polling does not flicker.
  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    c.data.labels = labels;
    c.data.datasets = datasets() as typeof c.data.datasets;
    c.update('none');
  });

  // The canvas is drawn pixels; the same numbers are summarised in text for screen readers.
  const totals = series.map((s) => [s.label, s.values.reduce((a, b) => a + b, 0)] as const);
  const summary = totals.map(([label, total]) => `${label}: ${total} in total`).join(', ');
  return (
    <figure class="chart" data-testid={testid} data-totals={JSON.stringify(Object.fromEntries(totals))}>
      <figcaption>{title}</figcaption>
      <div class="chart-box">
        <canvas ref={canvas} role="img" aria-label={`${title}. ${summary}`} />
      </div>
    </figure>
  );
}
