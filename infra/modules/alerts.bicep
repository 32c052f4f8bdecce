// The alerts docs/operators.md describes, as log search alerts on the app's own metrics in Log Analytics: failed
// webhook deliveries, messages in a poison queue, mailbox polls that keep failing, and tokens a seller or tenant
// must renew by reconnecting. Each fires to the action group when an e-mail is given, and shows in the portal anyway.
param workspaceName string
param location string
param tags object
param environmentName string

@description('Where the alerts are mailed; empty: no action group, the alerts only show in the portal.')
param alertEmail string = ''

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource operators 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: 'ag-omni-${environmentName}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'omni'
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var alerts = [
  {
    name: 'failed-deliveries'
    description: 'Webhook deliveries failed for good (docs/operators.md): redeliver them once the integrator\'s endpoint is back.'
    severity: 2
    window: 'PT15M'
    query: 'AppMetrics | where Name == "omni.webhook.delivery.attempts" and tostring(Properties["omni.outcome"]) == "failed" | summarize failed = sum(Sum) | where failed > 0'
  }
  {
    name: 'poison-queues'
    description: 'Messages are in a poison queue (docs/operators.md): read them before requeueing.'
    severity: 1
    window: 'PT15M'
    query: 'AppMetrics | where Name == "omni.queue.poison.depth" | summarize depth = max(Max) by queue = tostring(Properties["messaging.destination.name"]) | where depth > 0'
  }
  {
    name: 'stalled-mailboxes'
    description: 'Mailbox polls failed with no successful one for 30 minutes (docs/operators.md): the log line names the channel.'
    severity: 2
    window: 'PT30M'
    query: 'AppMetrics | where Name == "omni.mailbox.poll.duration" | summarize ok = sumif(ItemCount, tostring(Properties["omni.outcome"]) == "polled"), failed = sumif(ItemCount, tostring(Properties["omni.outcome"]) == "failed") | where failed > 0 and ok == 0'
  }
  {
    name: 'refused-tokens'
    description: 'A provider refused a refresh token: a seller or tenant must reconnect (docs/operators.md, /api/health reconnect).'
    severity: 2
    window: 'PT1H'
    query: 'AppMetrics | where Name == "omni.token.refresh.failures" and tostring(Properties["omni.reason"]) == "refused" | summarize failures = sum(Sum) | where failures > 0'
  }
]

resource rules 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = [
  for alert in alerts: {
    name: 'alert-omni-${environmentName}-${alert.name}'
    location: location
    tags: tags
    properties: {
      displayName: 'Omni ${environmentName}: ${alert.name}'
      description: alert.description
      severity: alert.severity
      enabled: true
      scopes: [workspace.id]
      evaluationFrequency: 'PT5M'
      windowSize: alert.window
      criteria: {
        allOf: [
          {
            query: alert.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: true
      actions: {
        actionGroups: empty(alertEmail) ? [] : [operators.id]
      }
    }
  }
]
