import { backendNamed } from './backends';
import { runContract } from './run';

runContract(backendNamed('libsql-file'));
