import { z } from 'zod';
import { viewsPlanSchema } from '../../lib/views/plan.js';

/** What the Provider framework passes: the CloudFormation request, the plan as the resource's properties. */
export const viewsEventSchema = z.discriminatedUnion('RequestType', [
  z.object({
    RequestType: z.enum(['Create', 'Update']),
    ResourceProperties: viewsPlanSchema.extend({ ServiceToken: z.string() }),
  }),
  z.object({ RequestType: z.literal('Delete'), PhysicalResourceId: z.string().min(1) }),
]);
