export { parseMudFile, type MudAce, type MudAcl, type MudFile } from './mud-file.js';
export { mudToFlows, type MudFlows, type UnresolvedAce } from './mud-flows.js';
export { loadMudTrustKeys, verifyMudSignature, type MudTrustKey } from './signature.js';
export { compileMudFile, type CompiledMud } from './compile.js';
