/** What a client is told when the store is down and `onStoreError` is 'deny'. */
export const STORE_UNAVAILABLE_MESSAGE = 'Rate limiting is temporarily unavailable; please retry shortly.';
