// MathJax settings for pymdownx.arithmatex (generic mode), as the Material theme documents.
// MathJax itself is served from this site (javascripts/mathjax/, docs/mathjax_hook.py).
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
};

document$.subscribe(() => {
  MathJax.typesetPromise();
});
