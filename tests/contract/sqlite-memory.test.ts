import { backendNamed } from './backends';
import { runContract } from './run';

runContract(backendNamed('sqlite-memory'));
