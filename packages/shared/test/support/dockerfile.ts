import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** infra/Dockerfile, read for the static checks and the production-install test. */
export const dockerfile = readFileSync(fileURLToPath(new URL('../../../../infra/Dockerfile', import.meta.url)), 'utf8');

/** Where the final stage begins: everything before it is the deps stage. */
const finalStageAt = dockerfile.lastIndexOf('\nFROM ');

/** The sources of the final stage's `COPY`s from the build context (not `--from` another stage). */
export function copiedFromContext(): string[] {
  return [...dockerfile.slice(finalStageAt).matchAll(/^COPY\s+(?!--from)(.+)$/gm)].flatMap((match) => (match[1] ?? '').trim().split(/\s+/).slice(0, -1));
}

/** The deps stage's `RUN` commands: the install, as the image makes it. */
export function installCommands(): string[] {
  const commands = [...dockerfile.slice(0, finalStageAt).matchAll(/^RUN\s+(.+)$/gm)].map((match) => match[1] ?? '');
  if (!commands.some((command) => /^npm ci\b/.test(command))) throw new Error('the deps stage of infra/Dockerfile runs no npm ci');
  return commands;
}
