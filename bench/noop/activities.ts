/** Activities that do nothing: what is left is Temporal's own cost. */
const nothing = (): Promise<void> => Promise.resolve();

export const recordApplication = nothing;
export const loadLifecycleSettings = nothing;
export const recordApproval = nothing;
export const issueInvoice = nothing;
export const recordPayment = nothing;
export const activateMember = nothing;
export const issueIdCard = nothing;
export const sendMemberEmail = nothing;
