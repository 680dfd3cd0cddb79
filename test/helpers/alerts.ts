import { allCustomMatcher, type BaseMatcher } from 'aws-sdk-client-mock-vitest';
import { expect } from 'vitest';

declare module 'vitest' {
  // The type parameter must match vitest's own declaration exactly, `any` included.
  // biome-ignore lint/suspicious/noExplicitAny: mirrors vitest's Matchers<T = any>
  interface Matchers<T = any> extends BaseMatcher<T> {}
}

// aws-sdk-client-mock-vitest's matchers (toHaveReceivedCommandWith...), registered as its README says.
expect.extend(allCustomMatcher);
