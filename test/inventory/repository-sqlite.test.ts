import { runDeviceRepositoryContract } from './repository-contract.js';

runDeviceRepositoryContract('sqlite');
