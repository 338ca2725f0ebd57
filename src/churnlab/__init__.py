"""churnlab: churn analysis and prediction workbench for customer-success teams."""

__version__ = "0.1.0"
