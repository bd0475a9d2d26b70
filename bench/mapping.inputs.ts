/** The inputs of `npm run bench` and bench/mapping.profile.ts: the i-th message of each kind. */
export const kinds: Record<string, (i: number) => Record<string, unknown>> = {
  identify: (i) => ({
    type: 'identify',
    userId: `u${i}`,
    traits: { email: `user${i}@example.com`, firstName: 'Ann', lastName: 'Lee', plan: 'pro', phone: '+12125550100' },
  }),
  track: (i) => ({
    type: 'track',
    userId: `u${i % 200}`,
    event: 'Product Viewed',
    properties: { sku: `S${i}`, price: 9.99 },
    context: { traits: { email: `user${i % 200}@example.com` } },
  }),
  order: (i) => ({
    type: 'track',
    userId: `u${i}`,
    event: 'Order Completed',
    properties: {
      order_id: `o${i}`,
      revenue: 30,
      products: [
        { product_id: 'p1', price: 10 },
        { product_id: 'p2', price: 20 },
      ],
    },
    context: { traits: { email: `user${i}@example.com` } },
  }),
};
