# Reference values for tace.stats.follow_up (median follow-up, reverse Kaplan-Meier),
# computed with the survival package on the committed survival data set and on small
# hand-made cases with flat stretches exactly at a quartile.
# Run from the repository root:  Rscript tests/reference/followup_reference.R
# Reads tests/reference/data/survival_data.csv; writes tests/reference/data/followup_reference.json.
# R 4.x with survival (Debian: r-cran-survival); versions recorded in the JSON.
suppressPackageStartupMessages(library(survival))
out_dir <- "tests/reference/data"
data <- read.csv(file.path(out_dir, "survival_data.csv"))

reverse <- function(time, status) {
  q <- quantile(survfit(Surv(time, 1 - status) ~ 1), c(0.25, 0.5, 0.75), conf.int = FALSE)
  list(time = time, status = status, q1 = unname(q[1]), median = unname(q[2]), q3 = unname(q[3]),
       median_observed = median(time))
}
cases <- list(
  survival_data = reverse(data$time, data$status),
  flat_at_quartile = reverse(c(5, 10, 20, 30, 40), c(1, 0, 1, 0, 0)),
  ties = reverse(c(3, 3, 3, 6, 6, 9, 12, 12, 15, 15), c(1, 0, 0, 1, 0, 0, 1, 0, 0, 0)),
  late_deaths = reverse(c(2, 4, 6, 8, 10, 12), c(0, 0, 0, 1, 1, 1))
)
num <- function(x) ifelse(is.na(x), "null", trimws(formatC(x, digits = 17, format = "g")))
vec <- function(x) paste0("[", paste(num(x), collapse = ", "), "]")
case_json <- function(name, c) sprintf('    "%s": {"time": %s, "status": %s, "q1": %s, "median": %s, "q3": %s, "median_observed": %s}',
                                        name, vec(c$time), vec(c$status), num(c$q1), num(c$median), num(c$q3),
                                        num(c$median_observed))
source <- "survival::quantile(survfit(Surv(time, 1 - status) ~ 1), c(0.25, 0.5, 0.75))"
lines <- c("{", sprintf('  "source": "%s",', source), sprintf('  "r_version": "%s",', R.version.string),
           sprintf('  "survival_version": "%s",', as.character(packageVersion("survival"))), '  "cases": {',
           paste(mapply(case_json, names(cases), cases), collapse = ",\n"), "  }", "}")
writeLines(lines, file.path(out_dir, "followup_reference.json"))
