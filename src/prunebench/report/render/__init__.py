"""Figures, tables and the page: the declared outputs (`layout`) and their producers, figures
as SVG text, the page's display rows, the LaTeX/Markdown exports and the HTML report."""
