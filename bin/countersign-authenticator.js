#!/usr/bin/env node
import '../dist/authenticator/main.js';
