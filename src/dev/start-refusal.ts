/** Why `npm start` (or `npm run reset`) will not go on, said so the reader knows what to do; printed without a stack. */
export class StartRefusal extends Error {
  override readonly name = 'StartRefusal';
}
