/** How often a server started by npm checks that npm is still its parent. */
const LAUNCHER_CHECK_MS = 1000;

/**
 * `npm start` / `npm run dev` run node as npm's child (the scripts `exec` node, so no shell stands in
 * between). npm passes SIGTERM and SIGINT on, but not SIGHUP: `kill -HUP <npm's pid>` kills npm and
 * would leave the server running with no parent, still on its port. When started by npm, the server
 * watches its parent and, once npm is gone, says so and shuts down gracefully. Signals belong to the
 * pid in the start-up line (`signalsLine`).
 */
export function watchLauncher(onGone: (message: string) => void): void {
  if (process.env.npm_lifecycle_event === undefined) return;
  const launcher = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === launcher) return;
    clearInterval(timer);
    onGone(
      `npm (pid ${launcher}), which started this server, is gone (npm does not pass SIGHUP on; send signals to pid ${process.pid}): shutting down`,
    );
  }, LAUNCHER_CHECK_MS);
  timer.unref();
}

export function signalsLine(pid: number): string {
  return `pid ${pid}: SIGHUP reloads the models and the API keys file, SIGTERM/SIGINT drain and stop (send them to this pid, not to npm's)`;
}
