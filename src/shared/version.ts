/** Countersign's version, as the server status report and the API description show it (kept equal to package.json: a test checks). */
export const VERSION = '0.1.0';
