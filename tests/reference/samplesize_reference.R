# Reference values for tace.stats.samplesize from pmvalsampsize 0.1.0 (Ensor 2023), which
# is not in Debian: install its CRAN source (R CMD INSTALL pmvalsampsize_0.1.0.tar.gz; it
# needs only pROC, r-cran-proc). Run from the repository root:
#   Rscript tests/reference/samplesize_reference.R
# Writes tests/reference/data/samplesize_reference.json. Criteria 1 and 3 and criterion 4
# with sensitivity and specificity given are deterministic; the rest simulate 10^6 LPs, so
# each such call runs with six seeds and the JSON keeps every seed's result.
suppressPackageStartupMessages(library(pmvalsampsize))
run <- function(...) {
  r <- suppressMessages(pmvalsampsize(type = "b", ...))
  out <- list(n = unname(r$results_table[, 1]), criteria = rownames(r$results_table))
  if (!is.null(r$sensitivity)) {
    out$sensitivity <- r$sensitivity; out$specificity <- r$specificity
    out$standardised_nb <- r$standardised_nb; out$se_nb <- r$se_st_nb
  }
  out
}
seeds <- c(1234, 1, 2, 3, 4, 5)
res <- list(
  version = as.character(packageVersion("pmvalsampsize")),
  # the package's own test 4.1 / 4.3 inputs (its tests use 1,000-10,000 draws; here 10^6)
  normal = lapply(seeds, function(s) run(prevalence = 0.018, cstatistic = 0.8, lpnormal = c(-5, 2.5),
                                          oeciwidth = 1, seed = s)),
  binormal = lapply(seeds, function(s) run(prevalence = 0.018, cstatistic = 0.8, lpcstat = -4.7,
                                            oeciwidth = 1, seed = s)),
  # criterion 4 with sensitivity and specificity given: deterministic
  nb_given = run(prevalence = 0.018, cstatistic = 0.8, lpnormal = c(-5, 2.5), oeciwidth = 1,
                 sensitivity = 0.7, specificity = 0.8, threshold = 0.05, seed = 1234),
  nb_given_2 = run(prevalence = 0.3, cstatistic = 0.75, lpnormal = c(-1, 1.2), sensitivity = 0.62,
                   specificity = 0.71, threshold = 0.25, nbciwidth = 0.1, seed = 1234),
  # criterion 4 from the LP distribution at the threshold (simulated, rounded to 2 decimals)
  nb_threshold = lapply(seeds, function(s) run(prevalence = 0.3, cstatistic = 0.75, lpnormal = c(-1, 1.2),
                                                threshold = 0.25, seed = s)),
  # a tace-sized case: outcome proportion 0.55, C 0.85, default widths
  tace_case = run(prevalence = 0.55, cstatistic = 0.85, lpnormal = c(0.25, 1.9), seed = 1234))
writeLines(jsonlite::toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/data/samplesize_reference.json")
