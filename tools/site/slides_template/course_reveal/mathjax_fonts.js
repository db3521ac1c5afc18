// MathJax 2 as jupyter-server-mathjax ships it has the STIX-Web fonts only (no TeX fonts): use them.
// Set before MathJax.js loads (the slides template and the site's main.html include this file).
window.MathJax = {
    "HTML-CSS": {availableFonts: ["STIX-Web"], preferredFont: "STIX-Web", webFont: "STIX-Web", imageFont: null},
    showMathMenu: false,
};
