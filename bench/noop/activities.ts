/** Activities that do nothing: what is left is Temporal's own cost. */
const nothing = (): Promise<void> => Promise.resolve();

export const loadLifecycleSettings = nothing;
export const approveAndInvoice = (): Promise<{ invoiceId: string }> => Promise.resolve({ invoiceId: 'noop' });
export const payAndActivate = nothing;
export const issueIdCard = nothing;
export const sendMemberEmail = nothing;
