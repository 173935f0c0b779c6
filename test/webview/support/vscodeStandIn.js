// Runs in the test page before its own scripts (a Playwright init script, which the page's CSP does not
// govern), standing in for what VS Code provides a webview: acquireVsCodeApi, and the theme on <html> and
// <body>. Plain JavaScript, injected as source text: a function passed from the tsx-compiled tests would carry
// the compiler's helpers (__name) that do not exist in the page.
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- called by the harness, which appends the call with its argument
function installVsCodeStandIn(theme) {
  window.__posted = [];
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI || e.sample}`);
  });
  const STATE_KEY = 'vscode-webview-state';
  let acquired = false;
  Object.defineProperty(window, 'acquireVsCodeApi', {
    value: () => {
      // VS Code allows one call per page; a second one throws there too.
      if (acquired) throw new Error('An instance of the VS Code API has already been acquired');
      acquired = true;
      return Object.freeze({
        // Messages cross to the host by structured clone: a copy, never the page's live object.
        postMessage: (message) => window.__posted.push(structuredClone(message)),
        // VS Code keeps a webview's state while it is hidden and across reloads; sessionStorage does here.
        getState: () => {
          const saved = sessionStorage.getItem(STATE_KEY);
          return saved === null ? undefined : JSON.parse(saved);
        },
        setState: (state) => {
          sessionStorage.setItem(STATE_KEY, JSON.stringify(state));
          return state;
        },
      });
    },
  });
  // VS Code sets the theme on <html> (variables) and <body> (class) before the page's scripts run.
  const applyToHtml = () => {
    const html = document.documentElement;
    if (!html) return false;
    for (const [name, value] of Object.entries(theme.vars)) html.style.setProperty(name, value);
    html.style.setProperty('background', theme.background);
    return true;
  };
  const applyToBody = () => {
    if (!document.body) return false;
    document.body.classList.add(theme.bodyClass);
    return true;
  };
  if (applyToHtml() && applyToBody()) return;
  const observer = new MutationObserver(() => {
    if (applyToHtml() && applyToBody()) observer.disconnect();
  });
  observer.observe(document, { childList: true, subtree: true });
}
