import type { ResolvedOptions } from './options.js';
import { DAY_MS } from './options.js';
import { DiscreteSampler, Rng, zipfWeights } from './rng.js';
import { money, type SqlRow, sqlDateTime3 } from './rows.js';

/** The product catalog and the marketing calendar, shared by every person of a data set. */

interface CategorySpec {
  readonly name: string;
  readonly weight: number;
  /** Median list price in dollars, and the spread of log price. */
  readonly medianPrice: number;
  readonly sigma: number;
  readonly brands: readonly string[];
  readonly nouns: readonly string[];
}

const CATEGORIES: readonly CategorySpec[] = [
  {
    name: 'Electronics',
    weight: 0.14,
    medianPrice: 160,
    sigma: 0.9,
    brands: ['Voltara', 'Nimbus', 'Kestrel', 'Auron'],
    nouns: ['Headphones', 'Speaker', 'Tablet', 'Smartwatch', 'Camera', 'Laptop', 'Monitor', 'Router'],
  },
  {
    name: 'Home',
    weight: 0.16,
    medianPrice: 45,
    sigma: 0.8,
    brands: ['Hearthly', 'Oakline', 'Casa Nova'],
    nouns: ['Lamp', 'Throw', 'Cookware Set', 'Vase', 'Kettle', 'Rug', 'Towel Set'],
  },
  {
    name: 'Apparel',
    weight: 0.2,
    medianPrice: 38,
    sigma: 0.6,
    brands: ['Northbound', 'Loom & Co', 'Avenue'],
    nouns: ['Jacket', 'Sneakers', 'Jeans', 'Sweater', 'T-Shirt', 'Dress', 'Boots'],
  },
  {
    name: 'Beauty',
    weight: 0.12,
    medianPrice: 22,
    sigma: 0.6,
    brands: ['Lumen', 'Petal', 'Verde'],
    nouns: ['Serum', 'Moisturizer', 'Perfume', 'Lipstick', 'Shampoo'],
  },
  {
    name: 'Sports',
    weight: 0.1,
    medianPrice: 55,
    sigma: 0.8,
    brands: ['Stride', 'Summit', 'Pace'],
    nouns: ['Yoga Mat', 'Bike Helmet', 'Running Shoes', 'Dumbbells', 'Tent'],
  },
  {
    name: 'Toys',
    weight: 0.08,
    medianPrice: 28,
    sigma: 0.7,
    brands: ['Bramble', 'Tinker'],
    nouns: ['Puzzle', 'Building Set', 'Plush', 'Board Game', 'Drone'],
  },
  {
    name: 'Grocery',
    weight: 0.12,
    medianPrice: 9,
    sigma: 0.5,
    brands: ['Harvest', 'Pantry Co'],
    nouns: ['Coffee', 'Olive Oil', 'Tea', 'Chocolate', 'Granola'],
  },
  {
    name: 'Books',
    weight: 0.08,
    medianPrice: 16,
    sigma: 0.4,
    brands: ['Quarto Press', 'Inkwell'],
    nouns: ['Novel', 'Cookbook', 'Atlas', 'Biography', 'Notebook'],
  },
];

const ADJECTIVES = [
  'Classic',
  'Pro',
  'Lite',
  'Essential',
  'Deluxe',
  'Eco',
  'Urban',
  'Max',
  'Mini',
  'Signature',
];

export interface Product {
  readonly productId: number;
  readonly category: string;
  /** List price in cents. */
  readonly priceCents: number;
  /** Mean review rating of the product, 1-5. */
  readonly quality: number;
  readonly row: SqlRow;
}

export interface Campaign {
  readonly id: string;
  readonly atMs: number;
}

/** Monthly seasonality of demand, January first; the mean is 1. */
export const MONTH_FACTORS: readonly number[] = (() => {
  const raw = [0.85, 0.78, 0.9, 0.92, 0.95, 0.92, 0.88, 0.95, 0.9, 1.0, 1.45, 1.9];
  const mean = raw.reduce((a, b) => a + b, 0) / raw.length;
  return raw.map((f) => f / mean);
})();
export const MAX_MONTH_FACTOR = Math.max(...MONTH_FACTORS);

/** Zipf exponent of product popularity. */
export const ZIPF_EXPONENT = 1.05;

export class Catalog {
  readonly products: readonly Product[];
  /** Indexes of products priced at 250 dollars or more (fraudsters' favourites). */
  readonly expensive: readonly number[];
  readonly emailCampaigns: readonly Campaign[];
  private readonly popularity: DiscreteSampler;
  private readonly adCampaignsByMonth = new Map<string, string[]>();

  constructor(options: ResolvedOptions) {
    const rng = new Rng(options.seed, 'catalog');
    const categorySampler = new DiscreteSampler(CATEGORIES.map((c) => c.weight));
    const products: Product[] = [];
    for (let i = 0; i < options.products; i++) {
      const productId = i + 1;
      const spec = CATEGORIES[categorySampler.sample(rng)] as CategorySpec;
      const brand = rng.pick(spec.brands);
      const name = `${brand} ${rng.pick(ADJECTIVES)} ${rng.pick(spec.nouns)} ${100 + (productId % 900)}`;
      const dollars = Math.max(2, Math.round(spec.medianPrice * rng.logNormal(0, spec.sigma)));
      const priceCents = dollars * 100 - 1;
      const quality = rng.between(3.2, 4.7);
      const updatedMs = options.startMs - rng.int(1, 400) * DAY_MS - rng.int(0, DAY_MS - 1);
      products.push({
        productId,
        category: spec.name,
        priceCents,
        quality,
        row: [productId, name, spec.name, brand, money(priceCents), sqlDateTime3(updatedMs)],
      });
    }
    this.products = products;
    // Popularity ranks are a random permutation, so popular products are spread over ids and categories.
    const ranks = rng.shuffle(Array.from({ length: products.length }, (_, i) => i));
    const weights = zipfWeights(products.length, ZIPF_EXPONENT);
    const byProduct = new Array<number>(products.length).fill(0);
    ranks.forEach((productIndex, rank) => {
      byProduct[productIndex] = weights[rank] ?? 0;
    });
    this.popularity = new DiscreteSampler(byProduct);
    const expensive = products.flatMap((p, i) => (p.priceCents >= 25_000 ? [i] : []));
    if (expensive.length === 0) {
      let best = 0;
      products.forEach((p, i) => {
        if (p.priceCents > (products[best] as Product).priceCents) best = i;
      });
      expensive.push(best);
    }
    this.expensive = expensive;

    // Two email campaigns a month, four in November and December, always at 09:00-11:59 UTC.
    const campaigns: Campaign[] = [];
    const first = new Date(options.startMs);
    let y = first.getUTCFullYear();
    let m = first.getUTCMonth();
    while (Date.UTC(y, m, 1) < options.endMs) {
      const perMonth = m >= 10 ? 4 : 2;
      const ym = `${y}${String(m + 1).padStart(2, '0')}`;
      for (let k = 1; k <= perMonth; k++) {
        const atMs = Date.UTC(y, m, rng.int(1, 28), rng.int(9, 11), rng.int(0, 59));
        if (atMs >= options.startMs && atMs < options.endMs) campaigns.push({ id: `cmp-${ym}-${k}`, atMs });
      }
      this.adCampaignsByMonth.set(
        `${y}-${m}`,
        Array.from({ length: 3 }, (_, k) => `ad-${ym}-${k + 1}`),
      );
      m++;
      if (m === 12) {
        m = 0;
        y++;
      }
    }
    campaigns.sort((a, b) => a.atMs - b.atMs);
    this.emailCampaigns = campaigns;
  }

  /** A product index drawn by popularity. */
  popularProduct(rng: Rng): number {
    return this.popularity.sample(rng);
  }

  product(index: number): Product {
    const p = this.products[index];
    if (!p) throw new Error(`no product at index ${index}`);
    return p;
  }

  adCampaign(rng: Rng, atMs: number): string {
    const d = new Date(atMs);
    const list = this.adCampaignsByMonth.get(`${d.getUTCFullYear()}-${d.getUTCMonth()}`);
    return list ? rng.pick(list) : 'ad-unknown';
  }
}

/** Demand multiplier at a time: the month factor, with a Black Friday to Cyber Monday bump. */
export function seasonFactor(ms: number): number {
  const d = new Date(ms);
  const month = d.getUTCMonth();
  const f = MONTH_FACTORS[month] ?? 1;
  if (month === 10 && d.getUTCDate() >= 24) return Math.min(MAX_MONTH_FACTOR, f * 1.25);
  return f;
}

// ------------------------------------------------------------------ people

export const FIRST_NAMES = [
  'James',
  'Mary',
  'Robert',
  'Patricia',
  'John',
  'Jennifer',
  'Michael',
  'Linda',
  'David',
  'Elizabeth',
  'William',
  'Barbara',
  'Richard',
  'Susan',
  'Joseph',
  'Jessica',
  'Thomas',
  'Sarah',
  'Carlos',
  'Karen',
  'Daniel',
  'Lisa',
  'Matthew',
  'Nancy',
  'Anthony',
  'Sofia',
  'Mark',
  'Ava',
  'Wei',
  'Priya',
  'Ahmed',
  'Yuki',
  'Olivia',
  'Liam',
  'Noah',
  'Emma',
  'Lucas',
  'Mia',
  'Mateo',
  'Amara',
];
export const LAST_NAMES = [
  'Smith',
  'Johnson',
  'Williams',
  'Brown',
  'Jones',
  'Garcia',
  'Miller',
  'Davis',
  'Rodriguez',
  'Martinez',
  'Hernandez',
  'Lopez',
  'Gonzalez',
  'Wilson',
  'Anderson',
  'Thomas',
  'Taylor',
  'Moore',
  'Jackson',
  'Martin',
  'Lee',
  'Perez',
  'Thompson',
  'White',
  'Harris',
  'Clark',
  'Lewis',
  'Robinson',
  'Walker',
  'Young',
  'Chen',
  'Patel',
  'Kim',
  'Nguyen',
  'Singh',
  'Okafor',
  'Schmidt',
  'Rossi',
  'Dubois',
  'Tanaka',
];
export const EMAIL_DOMAINS = ['example.com', 'example.net', 'example.org', 'mail.example.com'];

/** City, state, country, weight. */
export const PLACES: readonly (readonly [string, string, string, number])[] = [
  ['New York', 'NY', 'US', 10],
  ['Los Angeles', 'CA', 'US', 8],
  ['Chicago', 'IL', 'US', 6],
  ['Houston', 'TX', 'US', 5],
  ['Phoenix', 'AZ', 'US', 4],
  ['Philadelphia', 'PA', 'US', 4],
  ['San Antonio', 'TX', 'US', 3],
  ['San Diego', 'CA', 'US', 3],
  ['Dallas', 'TX', 'US', 3],
  ['Seattle', 'WA', 'US', 3],
  ['Denver', 'CO', 'US', 3],
  ['Boston', 'MA', 'US', 3],
  ['Atlanta', 'GA', 'US', 3],
  ['Miami', 'FL', 'US', 3],
  ['Portland', 'OR', 'US', 2],
  ['Minneapolis', 'MN', 'US', 2],
  ['Toronto', 'ON', 'CA', 4],
  ['Vancouver', 'BC', 'CA', 2],
  ['London', 'England', 'GB', 3],
  ['Manchester', 'England', 'GB', 1],
  ['Berlin', 'Berlin', 'DE', 2],
  ['Munich', 'Bavaria', 'DE', 1],
];
