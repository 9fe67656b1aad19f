import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium (override with CHROMIUM=/path): the browser of the e2e scripts. */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/**
 * Launches Chromium headless with the flags these machines need: no sandbox (root), no GPU, and
 * nothing that reaches the network on its own (the network is closed).
 */
export function launchChromium(timeoutMs: number): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: timeoutMs,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-quic',
      '--disable-sync',
    ],
  });
}
