#!/usr/bin/env node
import { runMain } from '@synddb/app-kit';
import { runCli } from './run-cli';

runMain('synddb-relayer', runCli);
