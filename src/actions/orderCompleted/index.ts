import type { ActionDefinition, PlanWarning } from '../types.js';
import type { Operation } from '../../klaviyo/operations.js';
import { eventFields, path, firstOf } from '../fields.js';
import { eventOperation, metricName } from '../event.js';
import { fitEventProperties } from '../limits.js';

const orderCompleted: ActionDefinition = {
  name: 'orderCompleted',
  title: 'Order Completed',
  description: 'One order event, then one product event per product in the order.',
  defaultSubscription: 'type = "track" and event = "Order Completed"',
  fields: {
    ...eventFields('Order Completed'),
    metric_name: { label: 'Event Name', description: 'Metric name of the order event.', type: 'string', required: true, default: 'Order Completed' },
    value: { label: 'Value', description: 'Order amount.', type: 'number', default: firstOf('$.properties.revenue', '$.properties.total') },
    unique_id: {
      label: 'Unique ID',
      description:
        'Dedupe key of the order event; defaults to the order id (then the message id). Map it to $.messageId to record several refunds of one order.',
      type: 'string',
    },
    order_id: {
      label: 'Order ID',
      description: 'Order id; makes the order and its product events idempotent.',
      type: 'string',
      default: path('$.properties.order_id'),
    },
    products: { label: 'Products', description: 'Products in the order.', type: 'object', multiple: true, default: path('$.properties.products') },
    product_event_name: { label: 'Product Event Name', description: 'Metric name of the per-product events.', type: 'string', default: 'Ordered Product' },
  },
  plan(p, settings, ctx) {
    const warnings: PlanWarning[] = [];
    const orderId = p.order_id !== undefined ? String(p.order_id) : undefined;
    // The order id (not the message id) keys the order, so the same order sent twice is recorded once.
    const order = eventOperation(p, settings, warnings, ctx, orderId ?? ctx.messageId);
    const ops: Operation[] = [order];
    const productMetric = metricName(p.product_event_name ?? 'Ordered Product', warnings, 'product_event_name');
    const base = orderId ?? order.uniqueId;
    ((p.products as Record<string, any>[]) ?? []).forEach((product, i) => {
      const pid = product.product_id ?? product.id ?? product.sku;
      if (pid === undefined)
        warnings.push({ field: `products[${i}]`, message: 'has no product_id, id or sku; its unique id falls back to its position in the order' });
      const properties = fitEventProperties(orderId ? { ...product, order_id: orderId } : { ...product }, warnings, `products[${i}]`);
      const price = Number(product.price);
      const op: Extract<Operation, { kind: 'event.create' }> = {
        kind: 'event.create',
        metric: productMetric,
        properties,
        uniqueId: `${base}_${pid ?? i}`,
        profile: order.profile,
      };
      if (order.time) op.time = order.time;
      if (order.backfill !== undefined) op.backfill = order.backfill;
      if (order.backfillAfterHours !== undefined) op.backfillAfterHours = order.backfillAfterHours;
      if (Number.isFinite(price)) op.value = price;
      ops.push(op);
    });
    return { operations: ops, warnings };
  },
};
export default orderCompleted;
