// Errors with a meaning every side understands. Code anywhere (core, a
// network, the store) throws GatewayError with one of the stanza-error
// conditions of RFC 6120 §8.3.3 and a sentence for the user; the XMPP side
// turns it into a stanza error at exactly one place (src/xmpp/errors.ts).
// Any other thrown error becomes internal-server-error, with details kept in
// the log, not shown to the user.

export type ErrorCondition =
  | 'bad-request'
  | 'conflict'
  | 'feature-not-implemented'
  | 'forbidden'
  | 'gone'
  | 'internal-server-error'
  | 'item-not-found'
  | 'jid-malformed'
  | 'not-acceptable'
  | 'not-allowed'
  | 'not-authorized'
  | 'policy-violation'
  | 'recipient-unavailable'
  | 'redirect'
  | 'registration-required'
  | 'remote-server-not-found'
  | 'remote-server-timeout'
  | 'resource-constraint'
  | 'service-unavailable'
  | 'subscription-required'
  | 'undefined-condition'
  | 'unexpected-request';

export type ErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

/** The error type RFC 6120 §8.3.3 pairs with each condition. */
export const DEFAULT_ERROR_TYPE: Record<ErrorCondition, ErrorType> = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  forbidden: 'auth',
  gone: 'cancel',
  'internal-server-error': 'wait',
  'item-not-found': 'cancel',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'not-authorized': 'auth',
  'policy-violation': 'modify',
  'recipient-unavailable': 'wait',
  redirect: 'modify',
  'registration-required': 'auth',
  'remote-server-not-found': 'cancel',
  'remote-server-timeout': 'wait',
  'resource-constraint': 'wait',
  'service-unavailable': 'cancel',
  'subscription-required': 'auth',
  'undefined-condition': 'cancel',
  'unexpected-request': 'wait',
};

export class GatewayError extends Error {
  readonly condition: ErrorCondition;
  readonly type: ErrorType;

  constructor(condition: ErrorCondition, text: string, type?: ErrorType) {
    super(text);
    this.name = 'GatewayError';
    this.condition = condition;
    this.type = type ?? DEFAULT_ERROR_TYPE[condition];
  }
}
