/* Text from data (a host name in a results file, a case's preset, a profile's file name) leaving
 * gencost in another language: a gnuplot script or data file, HTML, Markdown, CSV or a file
 * name. Results files, profiles and history databases come from other machines, so each of these
 * is untrusted; every writer passes data through exactly one function here for its language and
 * never splices it in any other way. Each function writes the whole escaped form (quotes
 * included) and changes nothing that an ordinary name (letters, digits, "-_.()/ ,=?") holds,
 * apart from the quoting itself. */
#ifndef GC_ESCAPE_H
#define GC_ESCAPE_H
#include <stddef.h>
#include <stdio.h>

/* A gnuplot string literal: single-quoted, where gnuplot expands nothing (no backquote command,
 * no @macro, no backslash escape) and the only special character is the quote itself, doubled.
 * Newlines and other control bytes would end the command, so they become spaces. The one way
 * text enters a gnuplot script: `system()`, backquotes and `load` stay inside the string. */
void gc_gp_quote(FILE *f, const char *s);

/* A string field of a gnuplot data file (read by columnheader, xtic, stringcolumn): double
 * quoted; a '"' becomes "'" and control bytes become spaces, so the field can neither end early
 * nor split its row. Data files are never evaluated. */
void gc_gp_field(FILE *f, const char *s);

/* HTML text or a double-quoted attribute value (gencost writes no other kind): & < > " as
 * character references; control bytes other than tab and newline become spaces. */
void gc_html(FILE *f, const char *s);

/* A Markdown table cell: '|' and '\' backslash-escaped so the cell cannot end early, '<' as
 * "&lt;" so no raw HTML starts, '[' and ']' escaped so no link or image starts, newlines and
 * other control bytes as spaces so the row cannot split. Also right for headings, paragraphs
 * and link texts built from data. */
void gc_md(FILE *f, const char *s);

/* A CSV text cell after RFC 4180: quoted when it holds ',', '"', CR or LF, '"' doubled. A cell
 * beginning with '=', '+', '-', '@', tab or CR would be a formula to a spreadsheet; it is
 * written quoted with a leading "'" ("'=1+1"), which spreadsheets show as text. A cell that is
 * exactly "-" (the report's "no value") is left alone. Numbers are not text cells: writers print
 * them directly, so a negative number stays a number. */
void gc_csv_text(FILE *f, const char *s);

/* A file name (no folder) from data: every byte outside [A-Za-z0-9._-] and the characters of
 * keep (may be NULL; '/' is never kept) becomes '_', a leading '.' becomes '_' (so never ".",
 * ".." or a hidden file), an empty name becomes "_". A name that had to change, or that passes
 * 200 bytes (or n - 1; it is then cut to 180), ends in "-" and 8 hex digits of a hash of the
 * whole input, so distinct inputs stay distinct files; a name already safe is kept as it is. */
void gc_safe_name(const char *s, const char *keep, char *buf, size_t n);

#endif
