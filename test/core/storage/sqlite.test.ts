import { runStorageContract } from './contract.js';

runStorageContract('sqlite');
