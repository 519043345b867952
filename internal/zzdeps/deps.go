// Package zzdeps pins dependencies not yet imported (temporary).
package zzdeps

import (
	_ "github.com/Shopify/toxiproxy/v2"
	_ "github.com/Shopify/toxiproxy/v2/client"
	_ "github.com/prometheus/client_golang/prometheus/collectors"
	_ "github.com/testcontainers/testcontainers-go"
	_ "github.com/testcontainers/testcontainers-go/modules/mysql"
	_ "github.com/testcontainers/testcontainers-go/wait"
	_ "go.uber.org/goleak"
)
