/* plot.h -- PNG plots of a run's outputs, drawn by gnuplot
 *
 * `pipeline plot CONF` (main.c) calls plot_render() on CONF's [output] dir.
 * It reads the outputs a run published there, never reruns the pipeline,
 * and writes into OUTDIR/plots/ (created when missing):
 *
 *   cluster_map.gp, .png      projection.tsv: the statements on the first
 *                             two principal axes, one colour per cluster
 *   top_terms.gp, .tsv, .png  summary.json: each cluster's top terms by
 *                             mean TF-IDF, as horizontal bars
 *   frames_heatmap.gp, .tsv, .png
 *                             frames.tsv: frames x clusters, each cell the
 *                             cluster's share of the frame's hits
 *   ksweep.gp, .png           ksweep.tsv, when the run swept k: the cluster
 *                             quality figures against k, selected k marked
 *
 * The scripts run in plots/ and name their inputs relative to it, so
 * `cd OUTDIR/plots && gnuplot cluster_map.gp` redraws one by hand.  Their
 * text depends only on the outputs, so it is deterministic.  A plot whose
 * input is absent (no ksweep.tsv, no frames) is skipped, with a note on
 * stderr unless `quiet`, and its old script and PNG are removed.
 */
#ifndef PL_PLOT_H
#define PL_PLOT_H

#include "util.h"

/*
 * Write the scripts and data files into outdir/plots and run gnuplot on
 * each.  `conf` is the config file's name, used in messages only.  Unless
 * `quiet`, prints the path of each PNG drawn on stdout.  0 or -1 with err:
 *   PL_EX_NOINPUT   an output is missing (run the pipeline first), or
 *                   gnuplot is not installed (the scripts are written);
 *   PL_EX_DATAERR   an output cannot be parsed, or the outputs come from
 *                   different runs;
 *   PL_EX_CANTCREAT plots/ or a file in it cannot be created;
 *   PL_EX_IOERR     a read or write error;
 *   PL_EX_SOFTWARE  gnuplot failed on a script (its message is above);
 *   PL_EX_OSERR     out of memory, or gnuplot could not be started.
 */
int plot_render(const char *outdir, const char *conf, int quiet,
		struct pl_error *err);

#endif
