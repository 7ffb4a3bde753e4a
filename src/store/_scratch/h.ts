import { handleCandidates, base32 } from '../handles.js';
console.log(handleCandidates('!AbC:x'), handleCandidates('!abc:x')[0]);
console.log(base32(Buffer.from('foobar')), base32(Buffer.from('f')), base32(Buffer.from('fo')));
