# pROC's timings for the figures that benchmarks/bench_stats.py compares against.
# Rscript benchmarks/bench_proc.R   (R with r-cran-proc)
suppressPackageStartupMessages(library(pROC))
set.seed(1)
n <- 1000
y <- as.integer(runif(n) < 0.5); s <- rnorm(n) + y
r <- roc(y, s, levels = c(0, 1), direction = "<", quiet = TRUE)
t_boot <- system.time(ci.auc(r, method = "bootstrap", boot.n = 2000, boot.stratified = TRUE,
                             progress = "none"))["elapsed"]
n <- 100000
y <- as.integer(runif(n) < 0.5); a <- rnorm(n) + y; b <- a + rnorm(n)
t_delong <- system.time({
  ra <- roc(y, a, levels = c(0, 1), direction = "<", quiet = TRUE)
  rb <- roc(y, b, levels = c(0, 1), direction = "<", quiet = TRUE)
  ci.auc(ra, method = "delong")
  roc.test(ra, rb, method = "delong", paired = TRUE)
})["elapsed"]
cat(sprintf("pROC %s: bootstrap CI n=1000 boot.n=2000: %.3f s\n", packageVersion("pROC"), t_boot))
cat(sprintf("pROC %s: DeLong CI + paired test n=100000 (roc() included): %.3f s\n", packageVersion("pROC"), t_delong))
