# Reference values for tace.stats ROC functions, computed with pROC.
# Run from the repository root:  Rscript tests/reference/roc_reference.R
# Writes tests/reference/data/roc_data.csv (the inputs) and roc_reference.json (the values).
# R 4.x with pROC (Debian: r-cran-proc); the versions used are recorded in the JSON.
suppressPackageStartupMessages(library(pROC))
set.seed(20261127)
out_dir <- "tests/reference/data"

make <- function(name, n, prev, shift_a, shift_b, digits) {
  y <- as.integer(runif(n) < prev)
  latent <- rnorm(n)
  a <- round(latent + shift_a * y + rnorm(n, sd = 0.5), digits)
  b <- round(0.6 * latent + shift_b * y + rnorm(n, sd = 0.8), digits)
  data.frame(dataset = name, y = y, a = a, b = b)
}
data <- rbind(
  make("moderate_ties", 120, 0.4, 1.0, 0.6, 1),
  make("small", 20, 0.5, 1.2, 0.4, 2),
  make("ratings", 80, 0.35, 0.8, 0.8, 0),     # heavy ties: integer scores
  make("large", 2000, 0.3, 0.5, 0.45, 3)
)
sep <- data.frame(dataset = "separated", y = c(0, 0, 0, 0, 1, 1, 1),
                  a = c(1, 2, 3, 4, 5, 6, 7), b = c(1, 5, 2, 6, 3, 7, 4))
data <- rbind(data, sep)
write.csv(data, file.path(out_dir, "roc_data.csv"), row.names = FALSE)

r <- function(d, col) roc(d$y, d[[col]], levels = c(0, 1), direction = "<", quiet = TRUE)
res <- list(versions = list(R = R.version.string, pROC = as.character(packageVersion("pROC"))),
            datasets = list())
for (name in unique(data$dataset)) {
  d <- data[data$dataset == name, ]
  ra <- r(d, "a"); rb <- r(d, "b")
  ci_a <- ci.auc(ra, method = "delong", conf.level = 0.95)
  ci_a90 <- ci.auc(ra, method = "delong", conf.level = 0.90)
  entry <- list(
    auc_a = as.numeric(auc(ra)), auc_b = as.numeric(auc(rb)),
    var_a = as.numeric(var(ra, method = "delong")),
    delong_ci_a = as.numeric(ci_a)[c(1, 3)],
    delong_ci90_a = as.numeric(ci_a90)[c(1, 3)])
  if (name != "separated") {
    set.seed(1)
    entry$bootstrap_ci_a <- as.numeric(ci.auc(ra, method = "bootstrap", boot.n = 2000,
                                             boot.stratified = TRUE, progress = "none"))[c(1, 3)]
    t <- roc.test(ra, rb, method = "delong", paired = TRUE)
    entry$delong_paired <- list(statistic = unname(t$statistic), p_value = t$p.value,
                                estimate = unname(t$estimate[1] - t$estimate[2]),
                                conf_int = as.numeric(t$conf.int))
    set.seed(2)
    tb <- roc.test(ra, rb, method = "bootstrap", paired = TRUE, boot.n = 2000,
                   boot.stratified = TRUE, progress = "none")
    entry$bootstrap_paired <- list(statistic = unname(tb$statistic), p_value = tb$p.value)
  }
  res$datasets[[name]] <- entry
}
# Unpaired: score a in "moderate_ties" against score a in "small" and in "ratings".
for (other in c("small", "ratings")) {
  t <- roc.test(r(data[data$dataset == "moderate_ties", ], "a"), r(data[data$dataset == other, ], "a"),
                method = "delong", paired = FALSE)
  res[[paste0("unpaired_moderate_ties_vs_", other)]] <- list(
    statistic = unname(t$statistic), df = unname(t$parameter), p_value = t$p.value)
}
writeLines(jsonlite::toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "roc_reference.json"))
