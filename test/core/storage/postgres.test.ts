import { runStorageContract } from './contract.js';

runStorageContract('postgres');
