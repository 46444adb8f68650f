/** What a client saw: enough to judge the answer. */
export interface Answer {
  method: string;
  status: number;
  contentType: string;
  text: string;
}

interface ErrorObject {
  status?: unknown;
  code?: unknown;
  detail?: unknown;
  source?: { pointer?: unknown; parameter?: unknown; header?: unknown };
}

const VALIDATION_CODES = new Set(['VALIDATION_FAILED', 'INVALID_PARAMETER']);
const STACK_FRAME = /\bat .+\.(?:ts|js|mjs):\d+/;

/** The field a pointer (`/data/attributes/phone`) or parameter (`filter.status`) names: its last segment. */
const fieldOf = (where: string) => where.split(/[/.[\]]/).filter(Boolean).at(-1) ?? '(root)';

function problemsWithError(error: ErrorObject, status: number): string[] {
  const problems: string[] = [];
  if (error.status !== String(status)) problems.push(`error status ${String(error.status)} in a ${status} answer`);
  if (typeof error.code !== 'string' || !/^[A-Z][A-Z0-9_]+$/.test(error.code)) problems.push(`code ${String(error.code)} is not a stable code`);
  if (typeof error.detail !== 'string' || error.detail.trim() === '') return [...problems, 'no detail'];
  if (typeof error.code === 'string' && VALIDATION_CODES.has(error.code)) {
    const where = error.source?.pointer ?? error.source?.parameter;
    if (typeof where !== 'string') problems.push(`${error.code} without source.pointer or source.parameter`);
    else if (!error.detail.includes(fieldOf(where))) problems.push(`detail "${error.detail}" does not name ${where}`);
  }
  return problems;
}

/**
 * What is wrong with an answer: any 5xx; a 4xx that is not a JSON:API error document whose
 * errors each carry the answer's status, a stable code and a detail (naming the field, for
 * validation errors); a stack trace anywhere. Empty when the answer is acceptable.
 */
export function problemsWith(answer: Answer): string[] {
  if (answer.status >= 500) return [`${answer.status}: ${answer.text.slice(0, 500)}`];
  if (STACK_FRAME.test(answer.text) && !answer.contentType.startsWith('text/html') && !answer.contentType.includes('javascript')) {
    return ['the answer carries a stack trace'];
  }
  if (answer.status < 400) return [];
  if (!answer.contentType.startsWith('application/vnd.api+json')) return [`${answer.status} answered as ${answer.contentType || 'no content type'}`];
  if (answer.method === 'HEAD') return [];
  let document: { errors?: unknown };
  try {
    document = JSON.parse(answer.text) as { errors?: unknown };
  } catch {
    return [`${answer.status} body is not JSON: ${answer.text.slice(0, 200)}`];
  }
  if (!Array.isArray(document.errors) || document.errors.length === 0) return [`${answer.status} without an errors array`];
  return (document.errors as ErrorObject[]).flatMap((error) => problemsWithError(error, answer.status).map((p) => `${p} (${JSON.stringify(error).slice(0, 300)})`));
}
