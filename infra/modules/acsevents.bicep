// The Event Grid subscription that brings ACS's IncomingCall events to the app: a webhook to
// POST /api/providers/acs/events, which answers Event Grid's SubscriptionValidationEvent handshake. Event Grid makes
// that handshake while this deploys, so it can only succeed once the app's code is running there (docs/voice.md).
param systemTopicName string

// Secure because a webhook URL may carry a key in its query (ours does not: the endpoint answers the handshake).
@secure()
param endpointUrl string

resource events 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

resource incomingCalls 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: events
  name: 'incoming-calls'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: endpointUrl
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Communication.IncomingCall'
      ]
    }
    // A call rings for about 30 seconds: an event delivered later than that finds no call to answer.
    retryPolicy: {
      maxDeliveryAttempts: 3
      eventTimeToLiveInMinutes: 1
    }
  }
}
