// Draws the report's charts in the browser with Observable Plot (global `Plot`, on the global `d3`),
// from the JSON that render.ts inlined. Each `figure[data-chart]` names its drawing function below.
// Plain browser JavaScript: it runs as an inline <script> of the report, with no module loader.
(() => {
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const currency = data.currency ?? 'amount';

  const INK = '#2f5f8f';
  const LIGHT = '#c4d4e6';
  const GREY = '#8c8c8c';
  const PEAK = '#c0392b';
  const WIDE = 1040;
  const style = { fontSize: '12px', fontFamily: 'inherit', background: 'transparent', overflow: 'visible' };

  const integer = d3.format(',d');
  const money = d3.format(',.2f');
  const moneyShort = (v) =>
    Math.abs(v) >= 1000 ? d3.format('.3~s')(v).replace('G', 'B') : d3.format(',.0f')(v);
  const percent = d3.format('.1%');
  const utc = (text) => new Date(`${text}T00:00:00Z`);
  const monthName = d3.utcFormat('%b %Y');

  const segmentLabel = (d) => d.rfm_segment ?? d.lifecycle_stage;
  const segmentOrder = data.segmentOverview.map(segmentLabel);

  const SIGNALS = {
    distinct_ips: 'Many distinct IPs',
    login_attempts: 'Many login attempts',
    failed_logins: 'Many failed logins',
    high_value_order: 'High-value order',
    orders_in_window: 'Many orders',
  };

  /** One horizontal bar per segment, in the segment order shared by the three segment panels. */
  const segmentBars = ({ width, marginLeft, marginRight, value, label, tickFormat, text, title }) =>
    Plot.plot({
      width,
      height: 30 + 26 * segmentOrder.length,
      marginLeft,
      marginRight,
      style,
      x: { label, tickFormat, ticks: 3 },
      y: { label: null, domain: segmentOrder, axis: marginLeft > 20 ? 'left' : null },
      marks: [
        Plot.barX(
          data.segmentOverview.filter((d) => value(d) !== null),
          { x: value, y: segmentLabel, fill: INK, title },
        ),
        Plot.text(data.segmentOverview, {
          x: (d) => value(d) ?? 0,
          y: segmentLabel,
          text,
          textAnchor: 'start',
          dx: 4,
        }),
        Plot.ruleX([0]),
      ],
    });

  const charts = {
    // Three panels on one shared row order: the first carries the segment names for all three.
    'segments-customers': () =>
      segmentBars({
        width: 440,
        marginLeft: 150,
        marginRight: 100,
        value: (d) => d.customers,
        label: 'Customers',
        tickFormat: integer,
        text: (d) => `${integer(d.customers)} (${percent(d.share ?? 0)})`,
        title: (d) => `${segmentLabel(d)} (${d.lifecycle_stage}): ${integer(d.customers)} customers`,
      }),

    'segments-revenue': () =>
      segmentBars({
        width: 300,
        marginLeft: 10,
        marginRight: 50,
        value: (d) => d.lifetime_revenue ?? 0,
        label: currency,
        tickFormat: moneyShort,
        text: (d) => moneyShort(d.lifetime_revenue ?? 0),
        title: (d) => `${segmentLabel(d)}: revenue to date ${money(d.lifetime_revenue ?? 0)} ${currency}`,
      }),

    'segments-value': () =>
      segmentBars({
        width: 300,
        marginLeft: 10,
        marginRight: 50,
        value: (d) => d.avg_lifetime_value,
        label: currency,
        tickFormat: moneyShort,
        text: (d) => (d.avg_lifetime_value === null ? 'n/a' : d3.format(',.0f')(d.avg_lifetime_value)),
        title: (d) =>
          `${segmentLabel(d)}: mean lifetime value ${d.avg_lifetime_value === null ? 'n/a' : `${money(d.avg_lifetime_value)} ${currency}`}, ` +
          `${money(d.expected_lifetime_value ?? 0)} ${currency} in all`,
      }),

    'rfm-grid': () => {
      const max = d3.max(data.rfmGrid, (d) => d.customers);
      return Plot.plot({
        width: 520,
        height: 420,
        marginLeft: 60,
        marginBottom: 50,
        style,
        x: { label: 'Frequency score (5 = buys most often)', domain: [1, 2, 3, 4, 5], labelAnchor: 'center' },
        y: { label: 'Recency score (5 = most recent)', domain: [5, 4, 3, 2, 1], labelAnchor: 'center' },
        color: { scheme: 'blues', domain: [0, max] },
        marks: [
          Plot.cell(data.rfmGrid, {
            x: 'f_score',
            y: 'r_score',
            fill: 'customers',
            inset: 1,
            title: (d) =>
              `R ${d.r_score}, F ${d.f_score}: ${integer(d.customers)} customers (${percent(d.share ?? 0)}), mostly ${d.segment ?? 'n/a'}`,
          }),
          Plot.text(data.rfmGrid, {
            x: 'f_score',
            y: 'r_score',
            text: (d) => integer(d.customers),
            fill: (d) => (d.customers > max * 0.55 ? 'white' : 'black'),
            fontSize: 13,
          }),
        ],
      });
    },

    churn: () =>
      Plot.plot({
        width: WIDE,
        height: 300,
        marginTop: 24,
        style,
        x: {
          label: 'Churn probability (10-point bands)',
          domain: data.churnDistribution.map((d) => d.band_label),
          padding: 0.15,
        },
        y: { label: 'Customers', tickFormat: integer, ticks: 5 },
        marks: [
          Plot.barY(data.churnDistribution, {
            x: 'band_label',
            y: 'customers',
            fill: LIGHT,
            title: (d) => `${d.band_label}: ${integer(d.customers)} customers`,
          }),
          Plot.barY(data.churnDistribution, {
            x: 'band_label',
            y: (d) => d.churn_risk_customers ?? 0,
            fill: INK,
            title: (d) =>
              `${d.band_label}: ${integer(d.churn_risk_customers ?? 0)} flagged by the purchase-gap rule`,
          }),
          Plot.text(data.churnDistribution, {
            x: 'band_label',
            y: 'customers',
            text: (d) => integer(d.customers),
            dy: -7,
          }),
          Plot.ruleY([0]),
        ],
      }),

    clv: () =>
      Plot.plot({
        width: WIDE,
        height: 300,
        marginTop: 24,
        style,
        x: {
          label: `Lifetime value (${currency})`,
          domain: data.clvDistribution.map((d) => d.band_label),
          padding: 0.15,
        },
        y: { label: 'Customers', tickFormat: integer, ticks: 5 },
        marks: [
          Plot.barY(data.clvDistribution, {
            x: 'band_label',
            y: 'customers',
            fill: INK,
            title: (d) =>
              `${d.band_label} ${currency}: ${integer(d.customers)} customers, ${money(d.lifetime_value ?? 0)} ${currency} in all`,
          }),
          Plot.text(data.clvDistribution, {
            x: 'band_label',
            y: 'customers',
            text: (d) => integer(d.customers),
            dy: -7,
          }),
          Plot.ruleY([0]),
        ],
      }),

    'fraud-signals': () => {
      const label = (d) => `${SIGNALS[d.signal] ?? d.signal} (${d.signal_group})`;
      return Plot.plot({
        width: WIDE,
        height: 40 + 32 * data.fraudSignals.length,
        marginLeft: 220,
        marginRight: 200,
        style,
        x: { label: 'Customers', tickFormat: integer, ticks: 5 },
        y: { label: null, domain: data.fraudSignals.map(label) },
        marks: [
          Plot.barX(data.fraudSignals, {
            x: 'customers',
            y: label,
            fill: LIGHT,
            title: (d) => `${d.signal}: triggered for ${integer(d.customers)} customers`,
          }),
          Plot.barX(data.fraudSignals, {
            x: 'flagged_customers',
            y: label,
            fill: INK,
            title: (d) => `${d.signal}: ${integer(d.flagged_customers)} of them flagged`,
          }),
          Plot.text(data.fraudSignals, {
            x: 'customers',
            y: label,
            text: (d) => `${integer(d.customers)} triggered, ${integer(d.flagged_customers)} flagged`,
            textAnchor: 'start',
            dx: 4,
          }),
          Plot.ruleX([0]),
        ],
      });
    },

    revenue: () => {
      const rows = data.revenueByMonth.map((d) => ({ ...d, date: utc(d.month) }));
      // The month in progress is a dot of its own: on the line it would read as a collapse.
      const complete = rows.filter((d) => !d.is_partial_month);
      const partial = rows.filter((d) => d.is_partial_month);
      const previous = rows.filter((d) => d.previous_year_revenue !== null);
      const peaks = rows.filter((d) => d.is_peak);
      return Plot.plot({
        width: WIDE,
        height: 360,
        marginTop: 26,
        marginLeft: 60,
        marginRight: 110,
        style,
        x: { label: null, type: 'utc' },
        y: { label: `Revenue (${currency})`, tickFormat: moneyShort, ticks: 6, zero: true },
        marks: [
          Plot.ruleY([0]),
          Plot.lineY(previous, {
            x: 'date',
            y: 'previous_year_revenue',
            stroke: GREY,
            strokeDasharray: '4,3',
            strokeWidth: 1.5,
          }),
          Plot.lineY(complete, { x: 'date', y: 'revenue', stroke: INK, strokeWidth: 2 }),
          Plot.dot(rows, {
            x: 'date',
            y: 'revenue',
            r: 5,
            fill: 'transparent',
            title: (d) =>
              `${monthName(d.date)}${d.is_partial_month ? ' (partial)' : ''}: ${money(d.revenue ?? 0)} ${currency}, ` +
              `${integer(d.orders ?? 0)} orders` +
              (d.year_over_year_change === null
                ? ''
                : `, ${percent(d.year_over_year_change)} on a year earlier`),
          }),
          Plot.dot(peaks, { x: 'date', y: 'revenue', r: 4, fill: PEAK }),
          Plot.dot(partial, { x: 'date', y: 'revenue', r: 4, stroke: INK, fill: 'white', strokeWidth: 1.5 }),
          Plot.text(partial, {
            x: 'date',
            y: 'revenue',
            text: (d) => `${d3.utcFormat('%b')(d.date)} so far`,
            textAnchor: 'start',
            dx: 8,
            dy: 8,
            fill: GREY,
          }),
          Plot.text(
            complete,
            Plot.selectLast({
              x: 'date',
              y: 'revenue',
              text: () => 'Revenue',
              textAnchor: 'start',
              dx: 8,
              dy: -8,
              fill: INK,
            }),
          ),
          Plot.text(
            previous,
            Plot.selectLast({
              x: 'date',
              y: 'previous_year_revenue',
              text: () => 'A year earlier',
              textAnchor: 'start',
              dx: 8,
              fill: GREY,
            }),
          ),
        ],
      });
    },

    products: () => {
      // Small multiples, one row per product on a shared scale: five crossing lines would not read.
      const firstMonth = d3.min(data.topProducts, (d) => d.month);
      const partial = new Set(data.revenueByMonth.filter((d) => d.is_partial_month).map((d) => d.month));
      const months = d3.sort(
        new Set(
          [...data.revenueByMonth.map((d) => d.month), ...data.topProducts.map((d) => d.month)].filter(
            (month) => month >= firstMonth && !partial.has(month),
          ),
        ),
      );
      const byProduct = d3.group(data.topProducts, (d) => d.product_id);
      // Every month for every product, null where the product was not among the month's leaders, so
      // the line breaks there instead of bridging the gap; the month in progress is left out.
      const rows = [...byProduct.values()].flatMap((product) => {
        const first = product[0];
        const name = `${first.overall_rank}. ${first.product_name ?? `product ${first.product_id}`}${first.category ? ` (${first.category})` : ''}`;
        const byMonth = new Map(product.map((d) => [d.month, d]));
        return months.map((month) => ({
          name,
          overall_rank: first.overall_rank,
          product_name: first.product_name,
          date: utc(month),
          revenue: byMonth.get(month)?.revenue ?? null,
          units: byMonth.get(month)?.units ?? null,
        }));
      });
      const names = d3
        .sort(
          d3.groups(rows, (d) => d.name),
          ([, g]) => g[0].overall_rank,
        )
        .map(([n]) => n);
      return Plot.plot({
        width: WIDE,
        height: 40 + 95 * names.length,
        marginLeft: 60,
        marginRight: 20,
        marginTop: 10,
        style,
        x: { label: null, type: 'utc' },
        // The unit is in the chart's title: an axis label would sit on the first product's name.
        y: { label: null, tickFormat: moneyShort, ticks: 3, zero: true },
        fy: { domain: names, label: null, axis: null, padding: 0.25 },
        marks: [
          Plot.ruleY([0]),
          Plot.lineY(rows, { x: 'date', y: 'revenue', fy: 'name', stroke: INK, strokeWidth: 1.5 }),
          Plot.dot(
            rows.filter((d) => d.revenue !== null),
            {
              x: 'date',
              y: 'revenue',
              fy: 'name',
              r: 1.5,
              fill: INK,
              title: (d) =>
                `${d.product_name}, ${monthName(d.date)}: ${money(d.revenue ?? 0)} ${currency}, ${integer(d.units ?? 0)} units`,
            },
          ),
          Plot.text(names, {
            fy: (d) => d,
            text: (d) => d,
            frameAnchor: 'top-left',
            dx: 4,
            dy: -2,
            fontWeight: 600,
          }),
        ],
      });
    },

    engagement: () =>
      Plot.plot({
        width: WIDE,
        height: 40 + 34 * data.engagementByChannel.length,
        marginLeft: 90,
        marginRight: 320,
        style,
        x: { label: 'Customers', tickFormat: integer, ticks: 5 },
        y: { label: null, domain: data.engagementByChannel.map((d) => d.channel) },
        marks: [
          Plot.barX(data.engagementByChannel, {
            x: 'active_customers',
            y: 'channel',
            fill: LIGHT,
            title: (d) =>
              `${d.channel}: ${integer(d.active_customers)} active customers, ${integer(d.actions)} actions`,
          }),
          Plot.barX(data.engagementByChannel, {
            x: 'primary_customers',
            y: 'channel',
            fill: INK,
            title: (d) => `${d.channel}: the main channel of ${integer(d.primary_customers)} customers`,
          }),
          Plot.text(data.engagementByChannel, {
            x: 'active_customers',
            y: 'channel',
            text: (d) =>
              `${integer(d.active_customers)} active, ${integer(d.primary_customers)} main` +
              (d.action_rate === null ? '' : `; action rate ${percent(d.action_rate)}`),
            textAnchor: 'start',
            dx: 4,
          }),
          Plot.ruleX([0]),
        ],
      }),
  };

  // Folded tables are printed open.
  window.addEventListener('beforeprint', () => {
    for (const details of document.querySelectorAll('details')) details.open = true;
  });

  for (const figure of document.querySelectorAll('figure[data-chart]')) {
    const name = figure.getAttribute('data-chart');
    const draw = charts[name];
    const target = figure.querySelector('.plot') ?? figure;
    try {
      if (!draw) throw new Error(`no drawing function for chart ${name}`);
      target.append(draw());
    } catch (error) {
      target.textContent = `This chart could not be drawn: ${error.message}`;
      console.error(`chart ${name}:`, error);
    }
  }
})();
